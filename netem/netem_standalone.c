/* netem-standalone: `otahil netem` as its own program until the harness's main.c
 * dispatches to netem_cli_main(). */
#include "netem_cli.h"

int main(int argc, char **argv) {
  argv[0] = "netem";
  return netem_cli_main(argc, argv);
}
