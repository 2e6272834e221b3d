/// <reference lib="dom" />
// Building DOM nodes without innerHTML: every text goes in as text, so names, phones and reasons
// from uploaded files can never become markup.
type Child = Node | string | number | null | undefined | false;
type AttributeValue = string | number | boolean | undefined | ((event: Event) => void);

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, AttributeValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === "function") node.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** A message area that shows the last error or notice of an action. */
export function notice(): {
  node: HTMLElement;
  show(text: string, kind?: "error" | "ok"): void;
  clear(): void;
} {
  const node = el("p", { class: "notice", role: "status" });
  return {
    node,
    show(text, kind = "error") {
      node.textContent = text;
      node.dataset.kind = kind;
    },
    clear() {
      node.textContent = "";
      delete node.dataset.kind;
    },
  };
}
