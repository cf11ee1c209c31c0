"""Files in and out: the only layer that imports music21 (and matplotlib, Verovio, FluidSynth).

MIDI read (`midi_read`) and written (`midi_write`, a hand-written SMF writer), the four voices chosen
among a file's parts (`voice_parts`), the chorale score in MusicXML with its key spelling
(`musicxml`), a melody to harmonize (`melody_input`), a folder of MIDI files read in worker processes
with its parse cache (`corpus`), audio and SVG rendering (`render`), plots (`plotting`), and music21's
Bach chorales exported as MIDI (`bach_export`). Everything goes in and out as plain values (`core`'s
notes and pieces).

May import: `core`.
"""
