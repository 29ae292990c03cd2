import Lake
open Lake DSL

-- A small Lake package for `plan_lake_project`: two libraries and an
-- executable. It is read, not built: no Lean toolchain is needed.
package «lake-demo» where
  version := v!"0.1.0"

@[default_target]
lean_lib Demo where
  globs := #[.andSubmodules `Demo]

lean_lib Extras where
  roots := #[`Extras]

lean_exe demo where
  root := `Main
