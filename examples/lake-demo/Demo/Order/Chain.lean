import Demo.Basic

abbrev Chain := List N

theorem chain_nil : ([] : Chain).length = 0 := rfl
