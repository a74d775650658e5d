"""Synthetic Arabic and English articles written for the fault benchmarks (no third-party text)."""

from pathlib import Path

TOWNS = ["الواحة", "المرسى", "النخيل", "الجبل", "السهل", "القلعة", "الرمال", "البحيرة"]
TOWNS_EN = ["Al-Waha", "Al-Marsa", "An-Nakhil", "Al-Jabal", "As-Sahl", "Al-Qalaa", "Ar-Rimal", "Al-Buhaira"]
TOPICS = ["مكتبة", "مستشفى", "ملعب", "سوق", "مدرسة", "جسر", "محطة", "حديقة"]
TOPICS_EN = ["library", "hospital", "stadium", "market", "school", "bridge", "station", "park"]


def article(number: int, version: int = 0) -> tuple[str, str]:
    """``(file name, text)`` of article ``number``; a new ``version`` changes its figures and dates."""
    town, topic = number % len(TOWNS), (number // len(TOWNS)) % len(TOPICS)
    cost, day = 3 + number * 7 % 90 + version * 11, 1 + (number + version * 5) % 28
    if number % 2:
        name = f"en_{number:04d}.txt"
        text = (f"New {TOPICS_EN[topic]} number {number} in {TOWNS_EN[town]}\n\n"
                f"The council of {TOWNS_EN[town]} approved the {TOPICS_EN[topic]} project number {number} at a "
                f"cost of {cost} million dinars. Work will start on day {day} of the month.\n\n"
                f"The engineer in charge of project {number} said the {TOPICS_EN[topic]} will employ "
                f"{number * 3 + version} workers. Residents asked for a second phase next year.\n")
    else:
        name = f"ar_{number:04d}.txt"
        text = (f"{TOPICS[topic]} جديد رقم {number} في {TOWNS[town]}\n\n"
                f"وافق مجلس مدينة {TOWNS[town]} على مشروع {TOPICS[topic]} رقم {number} بتكلفة {cost} مليون دينار. "
                f"وستبدأ الأشغال في اليوم {day} من الشهر.\n\n"
                f"وقال المهندس المسؤول عن المشروع رقم {number} إن {TOPICS[topic]} سيشغل {number * 3 + version} عاملا. "
                f"وطالب السكان بمرحلة ثانية في العام المقبل.\n")
    return name, text


def write_corpus(folder: Path, count: int, changed: frozenset[int] = frozenset(), start: int = 0) -> Path:
    """Write articles ``start .. start+count-1`` into ``folder`` (``changed`` ones at version 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(start, start + count):
        name, text = article(number, 1 if number in changed else 0)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def questions(numbers: list[int]) -> list[str]:
    """Questions whose answers sit in the given articles (about cost, start day and workers)."""
    asked = []
    for number in numbers:
        if number % 2:
            asked.append(f"How much will project number {number} in {TOWNS_EN[number % len(TOWNS_EN)]} cost?")
        else:
            asked.append(f"كم عاملا سيشغل المشروع رقم {number} في {TOWNS[number % len(TOWNS)]}؟")
    return asked
