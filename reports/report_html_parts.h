/* report_html_parts: the pieces report_html.c puts together. Internal to
 * reports/. */
#ifndef OTAHIL_REPORT_HTML_PARTS_H
#define OTAHIL_REPORT_HTML_PARTS_H

#include <cjson/cJSON.h>

#include "strbuf.h"

/* The page's inline style sheet and script (the script renders a case's
 * events, chart and console from its embedded data when the case is opened,
 * and runs the outcome filters and the search box). */
extern const char RH_CSS[];
extern const char RH_JS[];

/* The run timeline as inline SVG: one row per device, one bar per case (and
 * per earlier attempt) placed by its "started" and "duration", coloured by
 * outcome, linking to the case's section (#sN, N its index). Nothing when no
 * case has a "started". */
void rh_timeline(strbuf *b, const cJSON *scenarios);

/* Seconds since the epoch of an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SS[.mmm]Z",
 * or -1 if `s` is not one. */
double rh_iso_seconds(const char *s);

#endif
