import { engineBanner } from '../format.js';

export function renderBanner(el, engine) {
  const banner = engineBanner(engine);
  el.hidden = !banner.visible;
  el.textContent = banner.text;
}
