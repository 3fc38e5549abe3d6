# Shell helpers every test area shares (sourced by e2e/lib.sh, uart/lib.sh,
# netem/e2e_lib.sh and the device tests).

# free_port: a TCP port free on 127.0.0.1 just now (the kernel's pick; the
# caller binds it soon after, so a clash is rare but possible: tests that
# start a server on it check that it listens).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
