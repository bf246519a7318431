# arch: one folder per format family
