"""What kind of answer a question asks for (a number, a time), and whether a text carries one."""

import re

from index.normalise import normalise

# Question words, normalised (see index/normalise.py), that ask for a quantity or a point in time.
_NUMBER_QUESTION = re.compile(
    r"\b(how (many|much|long|far|old)|what (percentage|proportion|number)|population|كم|عدد|نسبه|مساحه|سكان)\b")
_TIME_QUESTION = re.compile(
    r"\b(when|what (year|date|day|month|time)|since when|متي|منذ متي|اي عام|اي سنه|تاريخ)\b")
_NUMBER = re.compile(
    r"\d|\b(واحد|اثن|ثلاث|اربع|خمس|ست|سبع|ثمان|تسع|عشر|مئ|مائ|الف|الاف|مليون|ملايين|مليار|نصف|ربع|ثلث|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|half|quarter|dozen)")
_TIME = re.compile(
    r"\d|\b(يناير|فبراير|مارس|ابريل|مايو|يونيو|يوليو|اغسطس|سبتمبر|اكتوبر|نوفمبر|ديسمبر|دجنبر|"
    r"الاحد|الاثنين|الثلاثاء|الاربعاء|الخميس|الجمعه|السبت|امس|اليوم|غدا|شهر|عام|سنه|قرن|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|year|century)")


def expected_type(question: str) -> str | None:
    """'number', 'time' or None: what kind of thing the question asks for, when that is clear."""
    text = normalise(question)
    if _NUMBER_QUESTION.search(text):
        return "number"
    if _TIME_QUESTION.search(text):
        return "time"
    return None


def carries_type(kind: str | None, text: str) -> bool:
    """Whether ``text`` contains something of the ``kind`` a question asks for (always, for None)."""
    if kind is None:
        return True
    pattern = _NUMBER if kind == "number" else _TIME
    return bool(pattern.search(normalise(text)))
