"""Bank statements in: CAMT.053/054 and CFONB 120 files read into entries, safely."""
