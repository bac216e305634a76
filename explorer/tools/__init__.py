"""One plain module per tool: a LoadedModel (or the ModelRegistry) and raw values in, data out (arrays, lists,
dicts; never HTML, never gradio). The page's tabs and the API endpoints call them, and so do the tests.

    explore        the main view: decode z, sample, reset, click a map point, describe a model
    interpolation  the path between two points           traversal   one row per latent dimension
    neighbours     nearest test codes                    arithmetic  z + s * (class mean - class mean)
    drawing        your own picture, encoded or inverted compare     the kinds of one dataset side by side
    dynamics       loss terms per epoch, KL per dim      export      map CSV, a synthetic labelled data set

Values are checked with explorer.validation; a person's mistake raises InputError with the fix in its message.
"""
