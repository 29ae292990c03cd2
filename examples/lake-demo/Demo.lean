/-! The library's root: imports everything. -/
import Demo.Basic
import Demo.Algebra.Group
import Demo.Order.Lattice
