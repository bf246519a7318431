# tests: see the README
