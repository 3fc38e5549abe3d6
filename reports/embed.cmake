# Turns a text file into a C string constant: cmake -DIN=f -DOUT=f.c -DNAME=SYM -P embed.cmake
# (report.html's script and style sheet are edited as .js/.css, shipped inside the binary).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* generated from ${IN} by embed.cmake: do not edit */\nconst char ${NAME}[] = {\n${bytes}0x00};\n")
