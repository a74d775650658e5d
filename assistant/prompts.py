"""Every prompt Dalil sends an LLM, and the fixed phrase it must give when the passages do not answer."""

from llama_index.core.llms import ChatMessage, MessageRole

from assistant.answering import NOT_FOUND
from index.records import Chunk

# The fixed phrase, one per answer language; the model is told to write exactly the one for the question.

PASSAGE_CHARS = 1500  # a passage longer than this is cut in the prompt (chunks are ~1,000 characters)
HISTORY_TURNS = 3  # conversation turns given to the follow-up rewrite
HISTORY_ANSWER_CHARS = 400

ANSWER_SYSTEM = """You answer questions about news articles using only the numbered passages you are given.
Rules:
1. Use only facts stated in the passages. Do not add anything from your own knowledge.
2. Write the answer in {language}, even when the passages are in another language.
3. End every sentence with the number of each passage it uses, in square brackets, before the full stop: \
"Washington offered guarantees [2]." or "... [1][3]." Use only the numbers of the passages below.
4. Keep it short: one to four sentences.
5. If the passages do not answer the question, reply with exactly this sentence and nothing else:
{not_found}"""

ANSWER_USER = """Passages:

{passages}

Question: {question}"""

REWRITE_SYSTEM = """You rewrite a follow-up question so that it can be understood without the conversation.
Replace pronouns and vague references with the names and things they refer to in the conversation.
Keep the language of the follow-up question. Reply with the rewritten question only, on one line.
If the question already stands on its own, reply with it unchanged."""

REWRITE_USER = """Conversation:
{history}

Follow-up question: {question}

Rewritten question:"""


def language_of(arabic: bool) -> str:
    return "ar" if arabic else "en"


def answer_messages(question: str, passages: list[Chunk], arabic: bool) -> list[ChatMessage]:
    """The system rules and the numbered passages with the question.

    Args:
        question: the question as searched (a follow-up already rewritten).
        passages: the retrieved passages, best first; passage ``i`` is numbered ``[i + 1]``.
        arabic: whether the question is in Arabic (the answer must be too).
    """
    language = "Arabic, the language of the question" if arabic else "the language of the question"
    system = ANSWER_SYSTEM.format(language=language, not_found=NOT_FOUND[language_of(arabic)])
    numbered = "\n\n".join(f"[{n}] {chunk.title}\n{_clip(chunk.text, PASSAGE_CHARS)}"
                           for n, chunk in enumerate(passages, start=1))
    return [ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=ANSWER_USER.format(passages=numbered, question=question))]


def rewrite_messages(question: str, history: list[tuple[str, str]]) -> list[ChatMessage]:
    """Messages asking for ``question`` as a standalone question, given (question, answer) turns."""
    turns = "\n".join(f"User: {asked}\nAssistant: {_clip(answered, HISTORY_ANSWER_CHARS)}"
                      for asked, answered in history[-HISTORY_TURNS:])
    return [ChatMessage(role=MessageRole.SYSTEM, content=REWRITE_SYSTEM),
            ChatMessage(role=MessageRole.USER, content=REWRITE_USER.format(history=turns, question=question))]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
