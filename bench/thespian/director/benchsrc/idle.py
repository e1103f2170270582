"""An actor that does nothing: the original's twin of our bench.idle."""
from thespian.actors import Actor


class Idle(Actor):
    def receiveMessage(self, msg, sender):
        pass
