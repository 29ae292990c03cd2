import Demo

def main : IO Unit := IO.println "demo"
