"""gankit lab: watch and steer a 2D GAN live in the browser (`gankit lab`, the optional extra gankit[lab]).

`session.py` owns the game (G, D, optimizers, gankit's own d_step / g_step) and its JSON frames, `messages.py`
validates what the page sends, `views.py` computes the layers, `server.py` serves the page and its WebSocket.
Nothing in the core imports this package (DESIGN.md: the UI is removable).
"""
