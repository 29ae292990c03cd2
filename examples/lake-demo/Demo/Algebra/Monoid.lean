import Demo.Basic

structure Monoid' (α : Type) where
  one : α
  mul : α → α → α

def natMonoid : Monoid' N := ⟨.zero, N.add⟩
