// Tidewater docs: marks the page once this script has run (the browser test checks it).
document.documentElement.dataset.tidewater = "ready";
