import { h } from '../dom.js';
import { resourceView, sparklinePoints } from '../format.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 160;
const HEIGHT = 28;

/** A small line chart of the last few minutes; `label` names it for screen readers. */
function sparkline(label) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const line = document.createElementNS(SVG, 'polyline');
  svg.append(line);
  const draw = (values) => line.setAttribute('points', sparklinePoints(values, WIDTH, HEIGHT));
  return { el: svg, draw };
}

/**
 * The running container's CPU, memory and data size with sparklines of the last minutes.
 * Built once per bot and updated in place about once a second.
 */
export function createResourcePanel() {
  const cpu = h('span', { 'data-test': 'cpu' }, '—');
  const memory = h('span', { 'data-test': 'memory' }, '—');
  const data = h('span', { 'data-test': 'data-size' }, '—');
  const cpuLine = sparkline('CPU over the last minutes');
  const memoryLine = sparkline('Memory over the last minutes');
  const row = (term, value, chart) => [
    h('dt', {}, term),
    h('dd', { class: 'resource' }, value, chart),
  ];
  const el = h('dl', { class: 'status-grid resources', 'aria-label': 'Resources' },
    row('CPU', cpu, cpuLine.el),
    row('Memory', memory, memoryLine.el),
    row('Data size', data));

  function update(samples) {
    const view = resourceView(samples);
    cpu.textContent = view.cpu;
    memory.textContent = view.memory;
    data.textContent = view.data;
    cpuLine.draw(view.cpuValues);
    memoryLine.draw(view.memoryValues);
  }
  return { el, update };
}
