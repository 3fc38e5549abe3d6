local helper = require "labhelper"

return {
  name = "a module of the lab's own library",
  dialect = "qcloud",
  run = function(t)
    t.expect(helper.answer() == 42, "labhelper.answer() is not 42")
    helper.check { wnat = 1 }
  end,
}
