"""Parkinson's narratives: cognitive span categories (Khanna, Bhatt et al. 2025)."""
