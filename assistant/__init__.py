"""paperchat: cited question answering over a collection of paper abstracts."""
