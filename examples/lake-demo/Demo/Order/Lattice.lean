import Demo.Basic

class Le' (α : Type) where
  le : α → α → Prop

private def N.le : N → N → Prop
  | .zero, _ => True
  | .succ _, .zero => False
  | .succ a, .succ b => N.le a b

instance : Le' N := ⟨N.le⟩

example : N.le .zero .zero := trivial
