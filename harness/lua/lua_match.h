/* lua_match: string.find, match, gmatch and gsub with a watchdog (lua_match.c):
 * the matcher asks rt_watchdog() every few thousand steps, so a pattern that
 * backtracks for minutes cannot hold the loop. Same semantics as Lua 5.4's. */
#ifndef OTAHIL_LUA_MATCH_H
#define OTAHIL_LUA_MATCH_H

#include <lua.h>

/* Replaces find, match, gmatch and gsub in the table on top of L (the string library). */
void lua_match_install(lua_State *L);

#endif
