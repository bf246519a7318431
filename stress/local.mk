# stress: see the README
