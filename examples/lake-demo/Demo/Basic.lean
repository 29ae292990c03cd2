/-- The natural numbers again. -/
inductive N where
  | zero : N
  | succ : N → N

def N.add : N → N → N
  | n, .zero => n
  | n, .succ m => .succ (N.add n m)

@[simp] theorem N.add_zero (n : N) : N.add n .zero = n := rfl
