"""The interest rate table on disk: reading and writing the rates file, and the ECB series that feeds it."""
