# bench: see the README
