-- A lab's own module (tests/e2e/test_authoring.sh gives this folder with --lib or lib = {...}).
local M = {}
function M.answer() return 42 end
function M.check(opts) otahil.check_keys(opts, "labhelper.check", { "want" }) return opts.want end
return M
