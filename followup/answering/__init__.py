"""The answering path, a module per job, in the order ``Engine.ask`` runs them:

* ``analysis``: what the turn asks (entities, intents, patient modifiers, what no article names);
* ``dialogue`` (with the older phrase rules of ``contextualize``): the dialogue state across
  turns, and the standalone question;
* ``focus``: the articles the conversation is about (what the last answer cited);
* ``answerability``: which retrieved passages may answer (the relevance gate);
* ``selection``: the sentences that answer, verbatim (extractive composition);
* ``references``: their citations, numbered;
* ``guard``: text that addresses the answering system, or is not in the articles' language;
* ``engine``: ``Engine.ask``, the steps in order.
"""
