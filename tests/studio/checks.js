// Evaluated in the page by the browser tests: which controls have no label, which texts fail WCAG AA contrast,
// and whether the focused element shows a focus ring. Each returns a list of problems, empty when all is well.
({
  unlabelled() {
    const problems = [];
    for (const el of document.querySelectorAll("input, select, textarea")) {
      if (el.type === "hidden" || el.closest("[hidden]")) continue;
      const named = el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
      if (!named) problems.push(el.outerHTML.slice(0, 120));
    }
    for (const el of document.querySelectorAll("button, a[href]")) {
      if (el.closest("[hidden]")) continue;
      if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push(el.outerHTML.slice(0, 120));
    }
    return problems;
  },

  lowContrast() {
    const parse = (text) => {
      const numbers = text.match(/[\d.]+/g)?.map(Number) ?? [0, 0, 0, 0];
      return { r: numbers[0], g: numbers[1], b: numbers[2], a: numbers.length > 3 ? numbers[3] : 1 };
    };
    const over = (top, below) => ({
      r: top.r * top.a + below.r * (1 - top.a),
      g: top.g * top.a + below.g * (1 - top.a),
      b: top.b * top.a + below.b * (1 - top.a),
      a: 1,
    });
    const luminance = ({ r, g, b }) => {
      const channel = (value) => {
        const c = value / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const backdrop = (el) => {
      const layers = [];
      for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (style.backgroundImage !== "none" && node.tagName !== "HTML") return null;
        const colour = parse(style.backgroundColor);
        if (colour.a > 0) layers.push(colour);
        if (colour.a >= 1) break;
      }
      return layers.reverse().reduce((below, top) => over(top, below), { r: 255, g: 255, b: 255, a: 1 });
    };
    const problems = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    while (walker.nextNode()) {
      const el = walker.currentNode.parentElement;
      if (!walker.currentNode.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      if (!el.checkVisibility() || el.closest(".visually-hidden, :disabled, svg, option")) continue;
      const style = getComputedStyle(el);
      const background = backdrop(el);
      if (!background) continue;
      const ratio = ((a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05))(
        luminance(over(parse(style.color), background)), luminance(background));
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(`${ratio.toFixed(2)}: "${el.textContent.trim().slice(0, 40)}" (${style.color} on rgb(${Math.round(background.r)}, ${Math.round(background.g)}, ${Math.round(background.b)}))`);
    }
    return problems;
  },

  focusRing() {
    const el = document.activeElement;
    if (!el || el === document.body) return ["nothing has the focus"];
    const ringed = [el, el.closest("label"), el.closest(".dropzone")].some((node) => {
      if (!node) return false;
      const style = getComputedStyle(node);
      return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    });
    return ringed ? [] : [`no focus ring on ${el.outerHTML.slice(0, 120)}`];
  },
})
