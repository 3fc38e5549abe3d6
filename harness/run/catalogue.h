/* catalogue: the names a lab and a scenario may use (scenarios/lib/catalogue.lua).
 *
 * The catalogue is policy and lives in Lua: `dialects` (the platforms that have
 * a library in scenarios/lib: a fifth is a Lua file and a line here, no C),
 * `features` (what a device can do:
 * a lab device's features, a scenario's requires) and `strict` (rules a lab may
 * ask for beyond the seeds' lenient reading), and `logins` (optional: the dialects whose
 * library checks a signed MQTT login, for the lab's auth = "platform"). The harness only checks names
 * against it, before anything runs, so that a typo is exit 2 with its location
 * instead of a silent SKIP or a rule that never applies. */
#ifndef OTAHIL_CATALOGUE_H
#define OTAHIL_CATALOGUE_H

#include <stddef.h>

#include "lab.h"
#include "scenario.h"

typedef struct catalogue catalogue;

/* Loads `lib_dir`/catalogue.lua in a sandboxed Lua state (with the scenarios'
 * limits). Returns NULL with err ("file: message") when it is missing or wrong. */
catalogue *catalogue_load(const char *lib_dir, char *err, size_t errlen);
void catalogue_free(catalogue *c);

/* 1 if `name` is a dialect (kind "dialects"), a feature (kind "features"), a
 * strict rule (kind "strict") or a dialect with a login to check (kind "logins"). */
int catalogue_has(const catalogue *c, const char *kind, const char *name);

/* Every lab device's dialect, feature and strict name is known, every timing
 * knob the catalogue names makes sense (e.g. progress_interval_ms > 0), and a device
 * with auth = "platform" has a dialect the catalogue's logins name: 0, or
 * -1 with err = "lab.lua:12: device 'b1': feature 'powr' is unknown (known: ...)". */
int catalogue_check_lab(const catalogue *c, const lab *l, char *err, size_t errlen);

/* Every name the scenario requires is a known feature: 0, or -1 with
 * err = "file:line: requires 'powr', which is not a feature (known: ...)";
 * the line is the first that names it in the file. */
int catalogue_check_scenario(const catalogue *c, const scenario *s, char *err, size_t errlen);

#endif
