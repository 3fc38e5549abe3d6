-- catalogue: the names a lab file and a scenario may use for their platform
-- (dialects), for what a device can
-- do (features: a lab device's `features = {...}`, a scenario's
-- `requires = {...}`) and for the rules a lab may ask for beyond the seeds'
-- lenient reading (a lab device's `strict = {...}`). otahil refuses any other
-- name (exit 2, with the file and line), so a typo never turns a scenario into
-- a silent SKIP or a rule into a silent no-op. A lab that adds a platform or
-- scenarios of its own adds its names here (or in its own library folder).
--
-- A scenario `requires` exactly what it exercises; a device that lacks one of
-- them gets SKIP with the reason (docs/verdicts.md lists which scenarios need what).
--
-- timing: the lab's timing knobs the libraries read, with the least value
-- that makes sense (`above`: strictly greater); a lab value outside is exit
-- 2 at the device's line. Other knobs are the device's own (placeholders in
-- its cmd, e.g. {boot_ms}) and need only be numbers >= 0.
return {
  -- dialects: the platforms with a library here (scenarios/lib/<name>.lua); a
  -- lab device's `dialect` and a scenario's (its folder, or `dialect = ...`)
  -- must be one of them. A fifth platform is its library and a line here.
  dialects = {
    qcloud = "Tencent Cloud IoT Explorer, OTA over MQTT + HTTP (seed 001)",
    aliyun = "Aliyun IoT Platform, OTA over MQTT, firmware over HTTP or MQTT blocks (seed 003)",
    haas = "AliOS HaaS: Aliyun's OTA plus the lower-version system upgrade trigger (seed 004)",
    quecthing = "Quectel QuecThing, plan/accept OTA for the module and its MCU (seeds 000, 002)",
  },
  -- logins: the dialects whose library judges the device's signed MQTT login
  -- (its login(t, l), made the decider by cloud.wire_login) for the lab's
  -- auth = "platform"; each says the public document the check is written
  -- from. A dialect not listed has no documented login to check: a device of
  -- it with auth = "platform" is a lab error (exit 2, at the device's line).
  -- QuecThing is not listed: its modules sign in inside Quectel's SDK from the
  -- ProductKey and ProductSecret (AT+QIOTCFG="productinfo", quecIot.setProductinfo:
  -- the "bootstrap authentication", after which the platform issues the
  -- DeviceSecret), and no public document gives the CONNECT's fields.
  logins = {
    qcloud = "Tencent's key authentication: tencentyun/qcloud_iot_mqtt_sign readme, \"MQTT 连接参数生成\" (qcloud.login)",
    aliyun = "Aliyun's device-secret signature: help.aliyun.com documents 73742 / 63656 (aliyun.login)",
    haas = "Aliyun's, as a HaaS device connects to Aliyun IoT with productKey, deviceName and deviceSecret "
      .. "(seed 004's Device.connect; aliyun.login)",
  },
  timing = {
    boot = { above = 0, doc = "seconds from power on to the device's first message" },
    step = { above = 0, doc = "seconds the longest gap between two progress messages may last" },
    settle = { least = 0, doc = "seconds a device may need to put received bytes on its flash (hold points)" },
    download_timeout = { above = 0, doc = "seconds of silence after which the device gives a download up" },
    progress_interval_ms = { above = 0, doc = "Aliyun, HaaS: the device's least time between progress reports" },
    rematch = { above = 0, doc = "QuecThing: seconds between the platform's plan matchings (the seed's 600)" },
  },
  features = {
    power = "the harness can cut and restore the device's power (a process device; a board with a power driver)",
    console = "the harness reads the device's console (a pty, a serial port, ser2net)",
    ["console-lines"] = "the lab names its firmware's console lines (lines = { burning =, boot = }: Lua "
      .. "patterns; boot's first capture is the version booted), for scenarios that act on a console line",
    resume = "breakpoint resume: a broken download continues from the bytes the device holds (Range), "
      .. "also across a power cut (seed 001's 断点续传; Aliyun, QuecThing over HTTP)",
    rollback = "an image that burns but does not boot is rolled back to the old one (A/B slots; "
      .. "the lab names it in images.fail_boot)",
    ["burn-check"] = "the device refuses at burn an image its flash will not take (images.fail_burn): "
      .. "Tencent -5, Aliyun step -4",
    ["mqtt-download"] = "Aliyun: the firmware comes over MQTT in blocks (dProtocol mqtt, thing/file/download)",
    ["firmware-get"] = "Aliyun: the device asks /sys/.../thing/ota/firmware/get after it connects",
    modules = "Aliyun, HaaS: modules besides the firmware (the lab's modules = { MCU = \"1.0.0\" }), "
      .. "upgraded one by one",
    tls = "the device reaches the cloud over TLS (the lab's tls key: MQTT over TLS, https:// firmware URLs) "
      .. "and verifies the server's certificate against the lab's CA",
    auth = "the device signs its MQTT login with the lab's secret as its platform does, and the lab's "
      .. "auth = \"platform\" has the cloud check it (docs/tls.md)",
    sota = "QuecThing: an MCU behind the module (the lab's modules = { STM32 = \"1.0.0\" }), "
      .. "upgraded over a serial line (SOTA)",
  },
  strict = {
    ["progress-rate"] = "Aliyun, HaaS: at most one intermediate progress report per interval "
      .. "(seed 003's recommendation, 3 s; the lab's timing.progress_interval_ms)",
    ["block-order"] = "Aliyun: each block request continues the last one or asks for it again (no gaps, no overlaps)",
    ["login-backoff"] = "a refused device waits at least 1 s between two MQTT logins (the device SDKs' least "
      .. "reconnect interval; otherwise a warning)",
    ["diff-source"] = "QuecThing: a differential package for another source version, should it reach the "
      .. "device, is refused (otaAction 0); the platform never pushes one",
  },
}
