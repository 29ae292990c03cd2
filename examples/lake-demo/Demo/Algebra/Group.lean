import Demo.Basic

class Semigroup' (α : Type) where
  mul : α → α → α

instance : Semigroup' N := ⟨N.add⟩

theorem mul_def (a b : N) : Semigroup'.mul a b = N.add a b := rfl
