"""What a built site's documents hold: the output's inventory, the site-local URL
rules (``urls``), and the HTML and CSS reference scanners."""
