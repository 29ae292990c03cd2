import Demo.Algebra.Group
import Demo.Order.Lattice

noncomputable def pick : N := .zero
