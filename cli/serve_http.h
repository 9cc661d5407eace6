// serve_http.h: the [http] wiring used by `postino serve` and `postino run`
// (see cli/http_wiring.h for the functions).
#pragma once

#include "cli/http_wiring.h"
