/**
 * What to install when Dawn finds no adapter, per platform: Dawn uses Vulkan on Linux (a GPU's driver, or
 * Mesa's lavapipe in software: Dawn needs Mesa 25 or later), Metal on macOS and D3D12 on Windows. Plain text
 * with no path into a checkout, so it is right for an installed package too.
 */
export interface DriverHelpFacts {
  platform: string;
  /** Contents of /etc/os-release (Linux), for the distribution. */
  osRelease?: string;
}

export function driverHelp(facts: DriverHelpFacts): string {
  if (facts.platform === 'darwin')
    return 'macOS: Dawn uses Metal, which every Mac since 2012 has; update macOS, and run outside a VM without GPU access.';
  if (facts.platform === 'win32')
    return "Windows: Dawn uses Direct3D 12; install the GPU vendor's current driver (in a VM without a GPU, enable its 3D acceleration).";
  if (facts.platform !== 'linux') return `${facts.platform}: Dawn has no backend here; use Linux, macOS or Windows.`;
  const os = facts.osRelease ?? '';
  const id = /^ID=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '') ?? '';
  const like = /^ID_LIKE=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '') ?? '';
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '') ?? '';
  const lines = [
    'Linux: Dawn uses Vulkan. With a GPU, install its Vulkan driver; without one, Mesa\'s software driver lavapipe (Mesa 25 or later: older lavapipe is rejected by Dawn), or Chromium\'s SwiftShader (then load with driver: "swiftshader").',
  ];
  const debian = `Debian/Ubuntu: sudo apt-get install mesa-vulkan-drivers libvulkan1 (Ubuntu 25.04+ and Debian 13 ship Mesa 25; on Debian 12 take it from backports: echo "deb http://deb.debian.org/debian bookworm-backports main" | sudo tee /etc/apt/sources.list.d/backports.list && sudo apt-get update && sudo apt-get install -t bookworm-backports mesa-vulkan-drivers)`;
  const fedora = 'Fedora/RHEL: sudo dnf install mesa-vulkan-drivers vulkan-loader';
  const other =
    "other distributions: the package that provides lvp_icd*.json (Mesa's Vulkan drivers) and libvulkan.so.1";
  const isDebian = /debian|ubuntu/.test(`${id} ${like}`);
  const isFedora = /fedora|rhel|centos/.test(`${id} ${like}`);
  lines.push(
    ...(isDebian ? [debian + (codename ? ` [this system: ${id} ${codename}]` : '')] : []),
    ...(isFedora ? [fedora + ` [this system: ${id}]`] : []),
    ...(!isDebian ? [debian] : []),
    ...(!isFedora ? [fedora] : []),
    other,
  );
  return lines.join('\n  ');
}
