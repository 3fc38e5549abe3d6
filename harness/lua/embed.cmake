# cmake -DIN=file.lua -DOUT=file_lua.h -DNAME=file_lua -P embed.cmake
# Lua that belongs to the C API stays a .lua file in the tree (readable, linted)
# and is compiled in as `static const char NAME[]` (NUL-terminated: the length
# is sizeof NAME - 1), so otahil needs no file of its own at run time.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by embed.cmake: edit the .lua file */\nstatic const char ${NAME}[] = {${hex}0x00};\n")
