"""Labeling rules: an expert's knowledge written as conditions that vote a label or abstain.

``matchers`` holds the rules and applies them to items (pure: RE2 and numpy, no Django);
``stats`` measures them (coverage, overlaps, conflicts, accuracy against ground truth).
The Django side — rule versions as voters, their votes, pages — sits beside these.
"""
