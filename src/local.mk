# src: arch-neutral core
