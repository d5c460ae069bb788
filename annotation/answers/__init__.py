"""Answers, one pure module per question type: validate a raw answer, compare two answers, measure
agreement among several. No Django here (tests/test_pure_modules.py checks).

- ``boxes``: rectangles on an image, ``[{x, y, w, h, label}]`` in image pixels.
- ``spans``: stretches of a text, ``[{start, end, label}]`` in character offsets.
- ``marks``: what both share — checking a list of marks and their labels, one-to-one (Hungarian)
  matching of two answers' marks by overlap, and the comparison and agreement figures built on it.

A *mark* is one box or one span. An answer that marks nothing is the empty list ``[]`` — "nothing
to mark here", an answer like any other that agrees with other empty answers. No answer at all
(``None``: a claim such as "should not be labeled", or no vote) is not an answer of this kind and is
never passed to these modules.

Each module's ``check_answer(value, label_keys, *, …, version)`` mirrors the choice check in
``annotation.answers.choice``: it returns the normalised answer (what a vote stores) or raises
``AnswerInvalid`` naming the field (``value[2].w``). A normalised answer checks again unchanged.
Claims ("does not fit", "should not be labeled") are the same for every question type and are
checked before the value, as ``annotation.answers.choice.check_answer`` does.
"""
