/* rt_libs: where `require` finds modules: the standard library folder (scenarios/lib)
 * first, then a lab's own library folders (--lib DIR, the lab file's lib = {...}).
 *
 * A module name "a.b" is the file "a/b.lua" under one of the folders. A lab folder
 * may add modules but not replace a standard one: rt_libs_check() says so before
 * anything runs. A module file found through a symlink that leaves its folder is
 * not a module of that folder. */
#ifndef OTAHIL_RT_LIBS_H
#define OTAHIL_RT_LIBS_H

#include <stddef.h>

/* Checks each folder of `dirs` (NULL-terminated; NULL: none): it must be a folder,
 * and none of its .lua files (at any depth) may have the relative path of a file in
 * `lib_dir`. Returns 0, or -1 with err naming both files. */
int rt_libs_check(const char *lib_dir, const char *const *dirs, char *err, size_t errlen);

/* The file of the module at relative path `rel` ("a/b.lua"): lib_dir's, else the
 * first of dirs that has it, written to out. Returns 0, or -1 if none has it. */
int rt_libs_find(const char *lib_dir, const char *const *dirs, const char *rel, char *out, size_t outlen);

/* Whether `file` (a path as loaded) lies in lib_dir or one of dirs. */
int rt_libs_holds(const char *lib_dir, const char *const *dirs, const char *file);

#endif
