"""The scripted stages the session, serve and bench tests share (known delays, no models).

STT answers "hello agent" after 300 ms; the LLM streams "Hello there, how are you?" (first
token after 100 ms, then one every 50 ms, end 50 ms later); TTS returns its audio 230 ms
after a request, 10 ms of audio per character; the endpointer runs the oracle VAD with the
defaults (threshold 0.5, 250 ms to start, 500 ms of silence to end, 100 ms pad).
"""

from voicelab.llm.scripted import ScriptedLLM
from voicelab.session import Stages
from voicelab.stt.scripted import ScriptedSTT
from voicelab.tts.scripted import ScriptedTTS
from voicelab.vad.endpointing import Endpointer
from voicelab.vad.oracle import OracleVAD

REPLY_TOKENS = ["Hello", " there", ",", " how", " are", " you", "?"]


def scripted_stages() -> Stages:
    return Stages(lambda: Endpointer(OracleVAD(), threshold=0.5, min_speech_ms=250, min_silence_ms=500,
                                     speech_pad_ms=100),
                  ScriptedSTT("hello agent", delay_ms=300),
                  ScriptedLLM(REPLY_TOKENS, ttft_ms=100, token_ms=50, end_ms=50),
                  ScriptedTTS(base_ms=230, audio_ms_per_char=10))
