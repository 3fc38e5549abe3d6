-- Two "boards" made of otadev on this machine, wired as a rack wires real
-- ones: a serial console shared by ser2net over raw TCP, power through a
-- relay, and firmware with the broker's address built in. tests/rack/
-- test_rack.sh runs the Tencent suite against them; it fills in the ports and
-- paths below with sed, as a lab engineer edits them for a rack.
--
-- Each board is tests/rack/pty_board.py: it owns a pseudo-terminal (the
-- USB-serial adapter, reached by a symlink that ser2net opens and keeps open
-- across power cycles) and a relay (a UNIX socket). "on" starts the firmware
-- on that console, "off" SIGKILLs it: a power cut. The firmware's command line
-- is fixed when the board is set up, so the proxies' ports are too (network):
--   pty_board.py run --link /run/otahil/pty-b1.tty --ctl /run/otahil/outlet-1.sock \
--     --flash /run/otahil/pty-b1.flash -- otadev --dialect qcloud \
--     --host 127.0.0.1 --port 18831 --product OTAHILPB01 --device pty-b1 \
--     --state {flash} --version 1.0.0 --boot-ms 100 --burn-ms 3000 --download-timeout 3
-- and ser2net.yaml shares the console:
--   connection: &pty-b1
--     accepter: tcp,127.0.0.1,3001
--     connector: serialdev,/run/otahil/pty-b1.tty,115200n81,local
--
-- A board keeps its flash between cases, as hardware does, so every case
-- after an upgrade would find it on the new version. pty-b1 (PDUDaemon) has a
-- deploy step, as a lab reflashes a board before each job: before every case,
-- with the power off, otahil runs its flashing command, which writes the base
-- image (1.0.0) back into the board's flash; a whole suite runs in one go.
-- pty-b2's exec relay instead hands the board the case's {state_dir} (emptied
-- when the case starts) as its flash.

-- Power through Debian's pdudaemon; its pdudaemon.conf has the PDU
--   "pty-pdu": { "driver": "localcmdline",
--     "cmd_on": "python3 tests/rack/pty_board.py ctl /run/otahil/outlet-%s.sock on",
--     "cmd_off": "python3 tests/rack/pty_board.py ctl /run/otahil/outlet-%s.sock off" }
device "pty-b1" {
  dialect = "qcloud", product = "OTAHILPB01", device = "pty-b1", version = "1.0.0",
  kind = "board",
  -- PDUDaemon cannot tell the outlet's state: say what the run leaves
  power = { driver = "pdudaemon", daemon = "http://127.0.0.1:16421",
            hostname = "pty-pdu", port = 1, timeout = 20, at_exit = "off" },
  console = { transport = "tcp", host = "127.0.0.1", tcp_port = 3001, retry = 0.1,
              death = { "Guru Meditation", "Kernel panic" } },
  -- the firmware's built-in broker is 127.0.0.1:18831; firmware URLs come
  -- from the cloud and name the HTTP proxy on 18081
  network = { listen = "127.0.0.1", mqtt_port = 18831, http_port = 18081 },
  -- the flashing tool: the board's relay socket takes "flash IMAGE" while off
  deploy = { cmd = { "/usr/bin/python3", "tests/rack/pty_board.py", "ctl", "/run/otahil/outlet-1.sock",
                     "flash", "{image}" }, timeout = 30 },
  base_image = otadev_image { version = "1.0.0", size = 64 * 1024 },
  images = {
    good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
             ["3.0.0"] = otadev_image { version = "3.0.0", size = 256 * 1024 } },
    fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
    fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
  },
  -- seconds for the suite's waits; download_timeout is the firmware's own
  -- (--download-timeout 3), which scenario 11 checks against
  timing = { boot = 10, step = 10, download_timeout = 3 },
  lines = { burning = "burning step 1/", boot = "boot slot=[a-z] version=([0-9.]+)" },
  features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" },
}

-- Power through otahil's exec driver: no shell; {ctl} is this table's key,
-- {state_dir} the case's flash folder (emptied when the case starts).
device "pty-b2" {
  dialect = "qcloud", product = "OTAHILPB01", device = "pty-b2", version = "1.0.0",
  kind = "board",
  power = { driver = "exec", ctl = "/run/otahil/pty-b2.sock", timeout = 10,
            on = { "/usr/bin/python3", "tests/rack/pty_board.py", "ctl", "{ctl}", "on", "{state_dir}" },
            off = { "/usr/bin/python3", "tests/rack/pty_board.py", "ctl", "{ctl}", "off" },
            state = { "/usr/bin/python3", "tests/rack/pty_board.py", "ctl", "{ctl}", "state" } },
  console = { transport = "tcp", host = "127.0.0.1", tcp_port = 3002, retry = 0.1,
              death = { "Guru Meditation", "Kernel panic" } },
  network = { listen = "127.0.0.1", mqtt_port = 18832, http_port = 18082 },
  images = {
    good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
             ["3.0.0"] = otadev_image { version = "3.0.0", size = 256 * 1024 } },
    fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
    fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
  },
  timing = { boot = 10, step = 10, download_timeout = 3 },
  lines = { burning = "burning step 1/", boot = "boot slot=[a-z] version=([0-9.]+)" },
  features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" },
}
