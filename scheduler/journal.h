// journal.h: the local journal of results `postino run` could not write to
// PostgreSQL before it had to exit (the database unreachable past [node]
// db_give_up_seconds, or a signal during an outage). One JSON object per
// line, appended and fsynced; the next `postino run` of the same node id
// replays it (RecordResults) before it claims anything, then deletes it.
// Path: <[node] journal_dir>/postino-journal-<node id>.jsonl.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "db/database.h"

namespace postino::scheduler {

// The journal file of a node (characters other than [A-Za-z0-9._-] of the
// node id become '_').
std::string JournalPath(const std::string& dir, const std::string& node);

// Appends `results` and fsyncs the file (and, when it creates the file, the
// directory, which it creates if missing).
Status AppendJournal(const std::string& path, const std::vector<db::AttemptResult>& results);

// Reads every result of the journal; an absent file is an empty journal. A
// torn last line (a crash while appending) is skipped; any other bad line
// is an error naming the file and line.
Result<std::vector<db::AttemptResult>> ReadJournal(const std::string& path);

Status RemoveJournal(const std::string& path);

}  // namespace postino::scheduler
