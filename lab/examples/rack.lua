-- A real rack: two boards on a lab network, consoles on USB-serial adapters,
-- power through the lab's PDUDaemon (b1) and through a relay tool (b2).
--
--   otahil run scenarios/qcloud --lab lab/examples/rack.lua --report out/
--
-- Power (drivers/power/power.h): a case starts with the board off, power_on
-- boots it, the case's cleanup cuts it; when the run ends (done, failed,
-- Ctrl-C) power is left as at_exit says: "on", "off", "leave", or by default
-- the state before the run (where the driver can tell, else on).
-- Images are the board's own firmware files, relative to this file's folder.
--
-- Deploy (as in LAVA): a board keeps its flash between cases, so after one
-- case upgrades it the next would not find the lab's version. Before every
-- case, with the power off, otahil runs the board's `deploy` command, which
-- writes `base_image` back ({image}); its output goes to the case's log. A
-- failed or timed-out deploy ends that case as ERROR and the run goes on.

device "b1" {
  dialect = "qcloud", product = "RACK1QC01", device = "b1", version = "1.0.0",
  kind = "board",
  -- PDUDaemon serializes and retries the requests to one PDU; the PDU's name
  -- and outlet are those of its pdudaemon.conf (as in a LAVA device dictionary)
  power = { driver = "pdudaemon", daemon = "http://127.0.0.1:16421",
            hostname = "rack1-pdu", port = 3, timeout = 30 },
  console = { transport = "serial", port = "/dev/serial/by-id/usb-FTDI_b1-if00-port0",
              baud = 115200, death = { "Kernel panic", "Guru Meditation" } },
  network = { listen = "192.168.7.1" },
  -- the board's firmware signs its MQTT login with its device secret, and the
  -- cloud checks it as Tencent does (docs/tls.md); with tls = { dir = "pki" }
  -- too it connects exactly as in the field. Add "auth" to features for
  -- scenarios/tls/03_qcloud_login.
  -- auth = "platform", secret = "the board's base64 device secret",
  -- an STM32 behind an ST-LINK: argv, no shell; the process group is killed
  -- at the timeout. Placeholders as for a process device's cmd, plus {image}
  deploy = { cmd = { "st-flash", "--reset", "write", "{image}", "0x08000000" }, timeout = 120 },
  base_image = "fw/b1-1.0.0.bin",
  images = {
    good = { ["2.0.0"] = "fw/b1-2.0.0.bin" },
    fail_boot = { version = "2.9.0", file = "fw/b1-2.9.0-fail-boot.bin" },
    fail_burn = { version = "2.8.0", file = "fw/b1-2.8.0-fail-burn.bin" },
  },
  timing = { boot = 20, step = 30, download_timeout = 60 },
  features = { "power", "console", "resume", "rollback", "burn-check" },
}

device "b2" {
  dialect = "qcloud", product = "RACK1QC01", device = "b2", version = "1.0.0",
  kind = "board",
  -- any command line, no shell; {relay} and {channel} are this table's own keys,
  -- {name} {device} {product} come from the device; state prints on or off
  power = { driver = "exec", relay = "HURTM_1", channel = 2, timeout = 10, at_exit = "off",
            on = { "usbrelay", "{relay}_{channel}=1" },
            off = { "usbrelay", "{relay}_{channel}=0" },
            state = { "/usr/local/bin/relay-state", "{relay}", "{channel}" } },
  console = { transport = "tcp", host = "127.0.0.1", tcp_port = 3002 }, -- shared by ser2net
  network = { listen = "192.168.7.1" },
  images = { good = { ["2.0.0"] = "fw/b2-2.0.0.bin" } },
  timing = { boot = 20, step = 30, download_timeout = 60 },
  features = { "power", "console", "resume", "rollback", "burn-check" },
}

-- A relay on a USB-serial adapter's DTR line, and a Shelly plug, would be:
--   power = { driver = "serial-dtr", port = "/dev/ttyUSB3", line = "dtr", active = "high" }
--   power = { driver = "http", on = { url = "http://10.0.0.21/relay/0?turn=on" },
--             off = { url = "http://10.0.0.21/relay/0?turn=off" },
--             state = { url = "http://10.0.0.21/relay/0", json = "ison" } }
