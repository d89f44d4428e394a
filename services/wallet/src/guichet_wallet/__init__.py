"""Wallet: typed documents of a person or a company, and the one safe path every file takes."""
