"""Pages that gather from several domains (the home page, the venue list and a venue's members).

It sits above the domain packages and may use them all, so that none of them has to reach sideways or up
(venues knows nothing of accounts; accounts knows nothing of courses or attendance).
"""
