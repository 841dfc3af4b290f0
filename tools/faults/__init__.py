"""Fault injection for the real-recording suite (``tests/real/``): each module takes a real
file and writes a copy with one fault real files have (a face dropout, mains hum, rotation
metadata, a variable frame rate, simultaneous events, wrong units, truncation, another text
encoding). Inputs are never modified."""
